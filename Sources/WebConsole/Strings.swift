import Foundation

/// The languages of the console: Chinese first, English when the browser asks for it.
enum Language: String, Sendable {
    case chinese = "zh"
    case english = "en"

    /// The first language of an `Accept-Language` header that the console speaks; Chinese otherwise.
    init(acceptLanguage header: String?) {
        let wanted = (header ?? "").split(separator: ",").map { $0.split(separator: ";")[0].trimmingCharacters(in: .whitespaces).lowercased() }
        self = wanted.compactMap { tag -> Language? in tag.hasPrefix("zh") ? .chinese : tag.hasPrefix("en") ? .english : nil }.first ?? .chinese
    }
}

/// Every label of every page, in each language: one table, so that no page has a string of its own.
enum Strings {
    static func table(_ language: Language) -> [String: String] {
        language == .chinese ? chinese : english
    }

    static let chinese: [String: String] = [
        "product": "Branchdesk 投诉处理",
        "login": "登录", "logout": "退出", "name": "用户名", "password": "密码",
        "queue": "工单队列", "newComplaint": "新建投诉", "search": "搜索",
        "number": "编号", "status": "状态", "severity": "严重程度", "category": "类别", "channel": "渠道",
        "customer": "客户", "phone": "电话", "assignee": "负责人", "received": "受理时间", "title": "标题",
        "deadline": "时限", "filter": "筛选", "all": "全部", "mine": "我的", "open": "未结", "overdue": "已超时",
        "dueSoon": "即将到期", "waiting": "等待客户", "noTickets": "没有工单",
        "statement": "客户陈述", "request": "客户诉求", "facts": "查明事实", "kind": "投诉性质", "department": "责任部门",
        "receivedAt": "收到时间", "tags": "标签", "handledBy": "处理网点", "readOnly": "只读：由其他网点处理",
        "report": "调查报告", "cause": "原因", "course": "经过", "responsible": "责任人", "conclusion": "结论",
        "countermeasure": "对策", "prevention": "预防措施", "resolution": "处理意见",
        "reply": "答复客户", "message": "答复内容", "via": "答复方式", "promisedDate": "承诺日期",
        "notes": "记录", "internalNote": "内部备注", "toCustomer": "告知客户", "addNote": "添加备注", "history": "历史",
        "deadlines": "时限", "conflicts": "冲突", "approval": "审批", "nextSteps": "下一步", "reason": "理由",
        "submitForm": "提交", "save": "保存", "keep": "保留", "choose": "改为",
        "transition.accept": "受理", "transition.reject": "不予受理", "transition.investigate": "开始调查",
        "transition.submit": "提交审批", "transition.approve": "批准", "transition.reply": "答复",
        "transition.close": "结案", "transition.reopen": "重新处理",
        "state.on-time": "正常", "state.due-soon": "即将到期", "state.breached": "已超时", "state.paused": "暂停",
        "state.met": "已达成", "state.met-late": "逾期达成",
        "loginFailed": "登录失败", "forbidden": "没有权限", "notFound": "找不到", "badRequest": "无法处理",
        "sessionExpired": "登录已过期，请重新登录", "csrfFailed": "表单已过期，请刷新页面后重试",
        "tooManyAttempts": "尝试次数过多，请稍后再试", "back": "返回",
        "1": "一般", "2": "严重", "3": "重大",
        "stage.new": "新建", "stage.accepted": "已受理", "stage.investigating": "调查中", "stage.awaiting-approval": "待审批",
        "stage.approved": "已批准", "stage.replied": "已答复", "stage.rejected": "不予受理", "stage.closed": "已结案",
    ]

    static let english: [String: String] = [
        "product": "Branchdesk complaints",
        "login": "Log in", "logout": "Log out", "name": "Name", "password": "Password",
        "queue": "Queue", "newComplaint": "New complaint", "search": "Search",
        "number": "Number", "status": "Status", "severity": "Severity", "category": "Category", "channel": "Channel",
        "customer": "Customer", "phone": "Phone", "assignee": "Assignee", "received": "Received", "title": "Title",
        "deadline": "Deadline", "filter": "Filter", "all": "All", "mine": "Mine", "open": "Open", "overdue": "Overdue",
        "dueSoon": "Due soon", "waiting": "Waiting for customer", "noTickets": "No tickets",
        "statement": "Statement", "request": "Request", "facts": "Facts", "kind": "Kind", "department": "Department",
        "receivedAt": "Received at", "tags": "Tags", "handledBy": "Handled by", "readOnly": "Read-only: another node handles it",
        "report": "Investigation report", "cause": "Cause", "course": "Course of events", "responsible": "Responsible",
        "conclusion": "Conclusion", "countermeasure": "Countermeasure", "prevention": "Prevention", "resolution": "Resolution",
        "reply": "Reply to the customer", "message": "Message", "via": "Via", "promisedDate": "Promised by",
        "notes": "Notes", "internalNote": "Internal note", "toCustomer": "Told the customer", "addNote": "Add a note",
        "history": "History", "deadlines": "Deadlines", "conflicts": "Conflicts", "approval": "Approval",
        "nextSteps": "Next steps", "reason": "Reason", "submitForm": "Submit", "save": "Save", "keep": "Keep", "choose": "Choose",
        "transition.accept": "Accept", "transition.reject": "Reject", "transition.investigate": "Investigate",
        "transition.submit": "Submit for approval", "transition.approve": "Approve", "transition.reply": "Reply",
        "transition.close": "Close", "transition.reopen": "Reopen",
        "state.on-time": "On time", "state.due-soon": "Due soon", "state.breached": "Breached", "state.paused": "Paused",
        "state.met": "Met", "state.met-late": "Met late",
        "loginFailed": "Login failed", "forbidden": "Not allowed", "notFound": "Not found", "badRequest": "Cannot do that",
        "sessionExpired": "Your session ended; please log in again", "csrfFailed": "The form expired; reload the page and try again",
        "tooManyAttempts": "Too many attempts; try again later", "back": "Back",
        "1": "General", "2": "Serious", "3": "Major",
        "stage.new": "New", "stage.accepted": "Accepted", "stage.investigating": "Investigating",
        "stage.awaiting-approval": "Awaiting approval", "stage.approved": "Approved", "stage.replied": "Replied",
        "stage.rejected": "Rejected", "stage.closed": "Closed",
    ]
}
